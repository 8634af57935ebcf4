"""Seeding: reference data, seed users and their fabricated history, and the service that writes
them (through repositories/seed.py). Pure logic only; Firestore access lives in `repositories`."""
