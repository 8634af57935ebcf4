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

COLORS: list[dict[str, Any]] = [
    {
        "id": "vibrant",
        "display_name": "Vibrant",
        "description": "Saturated, bold colors",
        "hex_examples": ["#FF3B30", "#FFCC00", "#34C759"],
    },
    {
        "id": "monochrome",
        "display_name": "Monochrome",
        "description": "Shades of a single hue",
        "hex_examples": ["#000000", "#808080", "#FFFFFF"],
    },
    {
        "id": "pastel",
        "display_name": "Pastel",
        "description": "Soft, light tones",
        "hex_examples": ["#FFD1DC", "#AEC6CF", "#77DD77"],
    },
    {
        "id": "neon",
        "display_name": "Neon",
        "description": "Glowing electric colors",
        "hex_examples": ["#39FF14", "#FF073A", "#00FFFF"],
    },
    {
        "id": "vintage",
        "display_name": "Vintage",
        "description": "Faded retro palette",
        "hex_examples": ["#C19A6B", "#8B4513", "#F5DEB3"],
    },
]

SIZES: list[dict[str, Any]] = [
    {
        "id": "512x512",
        "width": 512,
        "height": 512,
        "aspect_ratio": "1:1",
        "display_name": "Square (512×512)",
        "description": "Small square image",
        "credit_cost": 1,
    },
    {
        "id": "1024x1024",
        "width": 1024,
        "height": 1024,
        "aspect_ratio": "1:1",
        "display_name": "Large Square (1024×1024)",
        "description": "Large square image",
        "credit_cost": 3,
    },
    {
        "id": "1024x1792",
        "width": 1024,
        "height": 1792,
        "aspect_ratio": "9:16",
        "display_name": "Portrait (1024×1792)",
        "description": "Tall portrait image",
        "credit_cost": 4,
    },
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
