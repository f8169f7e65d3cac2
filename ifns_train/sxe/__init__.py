"""The SxE representation of Stage 03 (spec 9): the Admin console (`ifns-admin`, spec 9.2).

Admin is control-focused but grants no promotion power: it shows the registry and the
experiment log, records proposals to DRA, links experiments to SEL recommendations and DRA
decisions, and runs the registry's audit, doctor, export and migration. Applying a status
change is DRA's separate entry point, `ifns-decide` (ifns_train.decide).

Modules: `common` (argument parsing, errors, dates, registry opening: shared with ifns-decide),
`render` (rich output, escaped), `admin` (the parser and the registry-wide commands),
`admin_models` and `admin_experiments` (the two consoles).
"""
