"""Weekly report: ISO week windows, streaming aggregation, anomaly rules, report assembly."""
