"""The trading calendar's one constant, shared by features, baselines and metrics.

Every annualisation (volatility features and labels, the square-root impact baseline, the IC
information ratio) uses this number; two conventions in one system (Qlib uses 238 in one place
and 252 in another) make figures disagree for no reason.
"""

TRADING_DAYS_PER_YEAR = 252
