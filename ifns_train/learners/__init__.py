"""Learners: the libraries that fit a model and save it, behind one seam (`learners.base`):
Lightning for the nets (`lightning`), LightGBM for the trees (`lightgbm`); a registered model is
loaded by the learner that fitted it (`registered`)."""
