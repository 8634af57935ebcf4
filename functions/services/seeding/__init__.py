"""Seeding: reference data, seed users, their fabricated history, and the service writing them."""
