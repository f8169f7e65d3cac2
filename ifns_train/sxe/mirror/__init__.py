"""Mirror (spec 9.1): the read-only face of Stage 03, a static site built from the registry.

`ifns-admin mirror --out DIR` writes pages that open from disk with no server and no network
(the script and the style ship in this package, the data travel as script files next to the
pages): the family overview (`index.html`), a model panel per family (`families/`), a page per
model (`models/`), the experiment timeline (`timeline.html`) and a comparison of models
(`compare.html`). Every value from the registry is escaped: by Jinja's autoescape in the pages,
as JSON that cannot close a script in the data files, and through `textContent` in the browser.

Modules: `rows` (the list rows of a model and of an experiment), `model_page` (what a model's
page shows, read from its record and artifact folder), `writer` (files written only when
their content changed, and the manifest that lets a page be skipped without re-reading its
inputs), `site` (the build).
"""
