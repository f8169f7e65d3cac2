"""Stage 02 data access: the dataset index (`index`) and the embedded demo dataset (`demo`)."""
