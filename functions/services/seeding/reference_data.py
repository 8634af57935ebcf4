"""Reference data (styles, colors, sizes) and the seed users."""

from __future__ import annotations

from typing import Any

STYLES: list[dict[str, Any]] = [
    {"id": "realistic", "display_name": "Realistic", "description": "Photorealistic imagery"},
    {"id": "anime", "display_name": "Anime", "description": "Japanese animation style"},
    {"id": "oil_painting", "display_name": "Oil Painting", "description": "Classic oil on canvas"},
    {"id": "sketch", "display_name": "Sketch", "description": "Pencil sketch look"},
    {"id": "cyberpunk", "display_name": "Cyberpunk", "description": "Neon-lit futuristic scenes"},
    {"id": "watercolor", "display_name": "Watercolor", "description": "Soft watercolor washes"},
]


def _color(id_: str, name: str, description: str, *hex_examples: str) -> dict[str, Any]:
    return {
        "id": id_,
        "display_name": name,
        "description": description,
        "hex_examples": list(hex_examples),
    }


COLORS: list[dict[str, Any]] = [
    _color("vibrant", "Vibrant", "Saturated, bold colors", "#FF3B30", "#FFCC00", "#34C759"),
    _color("monochrome", "Monochrome", "Shades of a single hue", "#000000", "#808080", "#FFFFFF"),
    _color("pastel", "Pastel", "Soft, light tones", "#FFD1DC", "#AEC6CF", "#77DD77"),
    _color("neon", "Neon", "Glowing electric colors", "#39FF14", "#FF073A", "#00FFFF"),
    _color("vintage", "Vintage", "Faded retro palette", "#C19A6B", "#8B4513", "#F5DEB3"),
]


def _size(
    width: int, height: int, aspect: str, name: str, description: str, credits: int
) -> dict[str, Any]:
    return {
        "id": f"{width}x{height}",
        "width": width,
        "height": height,
        "aspect_ratio": aspect,
        "display_name": f"{name} ({width}×{height})",
        "description": description,
        "credit_cost": credits,
    }


SIZES: list[dict[str, Any]] = [
    _size(512, 512, "1:1", "Square", "Small square image", 1),
    _size(1024, 1024, "1:1", "Large Square", "Large square image", 3),
    _size(1024, 1792, "9:16", "Portrait", "Tall portrait image", 4),
]


# Credit packs sold through Stripe Checkout; `amount` in the currency's smallest unit (cents).
def _pack(id_: str, name: str, credits: int, cents: int) -> dict[str, Any]:
    return {"id": id_, "name": name, "credits": credits, "amount": cents, "currency": "usd"}


CREDIT_PACKS: list[dict[str, Any]] = [
    _pack("pack_50", "Starter — 50 credits", 50, 500),
    _pack("pack_200", "Creator — 200 credits", 200, 1800),
    _pack("pack_1000", "Studio — 1,000 credits", 1000, 8000),
]

# id -> (display name, credits)
USERS: dict[str, tuple[str, int]] = {
    "arda": ("Arda", 500),
    "havanur": ("Havanur", 5),
    "alex_designer": ("Alex Designer", 8),
    "sarah_artist": ("Sarah Artist", 42),
    "mike_creative": ("Mike Creative", 3),
    "emma_photo": ("Emma Photo", 67),
    "david_dev": ("David Dev", 12),
    "lisa_marketing": ("Lisa Marketing", 28),
    "bot_spammer": ("Bot Spammer", 200),
    "new_enterprise": ("New Enterprise", 1000),
    "promo_user1": ("Promo User 1", 50),
    "promo_user2": ("Promo User 2", 45),
    "viral_marketer": ("Viral Marketer", 15),
}


def email_of(user_id: str) -> str:
    """A seed user's e-mail: its document's `email` and, on the emulator, its sign-in name."""
    return f"{user_id}@example.com"


# Sign-in on the local stack only (scripts/data/seed_auth.py creates these Auth emulator accounts):
# every seed user with this password, and one operator whose account carries the `admin` claim.
DEMO_PASSWORD = "feraset-demo"
ADMIN_ACCOUNT = "admin"
