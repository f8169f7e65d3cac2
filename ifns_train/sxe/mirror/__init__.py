"""Mirror (spec 9.1): the read-only face of Stage 03, a static site built from the registry.

`ifns-admin mirror --out DIR` writes pages that open from disk with no server and no network
(the script and the style ship in this package, the data travel as script files next to the
pages): the family overview (`index.html`), a model panel per family (`families/`), a page per
model (`models/`), the experiment timeline (`timeline.html`) and a comparison of models
(`compare.html`). Every value from the registry is escaped: by Jinja's autoescape in the pages,
as JSON that cannot close a script in the data files, and through `textContent` in the browser.

- `site.py`: the build: the registry read once, each page rendered only when its inputs changed.
- `rows.py`: the list rows of a model and of an experiment, flat values in `*_COLUMNS` order.
- `model_page.py`: what a model's page shows, read from its record and artifact folder.
- `render.py`: the Jinja environment (autoescape), script-safe data files, the templates' digest.
- `writer.py`: files written only when their content changed; the manifest that skips pages.
- `templates/`: the Jinja templates of the pages.
- `static/`: the style and the script, written to the site's `assets/`.
"""
