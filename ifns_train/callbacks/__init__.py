"""Lightning callbacks of ifns-train; the recorder writes every run's evidence."""
