"""Weekly report: ISO week windows, streaming aggregation, anomaly rules, report assembly.

Pure logic only; Firestore access lives in `repositories`.
"""
