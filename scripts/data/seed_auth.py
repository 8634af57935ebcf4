"""Create the Auth emulator's sign-in accounts for the seeded users (`make dev` runs this).

Every seed user gets an account whose uid is its userId (so its ID token acts for exactly that
user), e-mail `<userId>@example.com` and the demo password; one more account, `admin`
(`admin@example.com`), carries the `admin` custom claim that the admin functions accept. Run
again, it creates what is missing and changes only what differs, without revoking anyone's
tokens: it never deletes an account, and sets the password (which revokes) only when the demo
password does not sign in. Only against the Auth emulator: it refuses to run without
FIREBASE_AUTH_EMULATOR_HOST, so it can never create demo accounts in a real project.

Usage: FIREBASE_AUTH_EMULATOR_HOST=127.0.0.1:9099 python scripts/data/seed_auth.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import firebase_admin
import requests
from firebase_admin import auth

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))
from core.firestore_client import project_id
from services.seeding import reference_data


def seed_accounts(app: firebase_admin.App) -> list[str]:
    """Create the missing accounts and bring the others to their seed state; the uids, the
    operator last."""
    accounts = [(uid, name, {}) for uid, (name, _) in reference_data.USERS.items()]
    accounts.append((reference_data.ADMIN_ACCOUNT, "Operator", {"admin": True}))
    for uid, name, claims in accounts:
        profile = {
            "email": reference_data.email_of(uid),
            "display_name": name,
            "email_verified": True,
            "disabled": False,
        }
        try:
            user = auth.get_user(uid, app=app)
        except auth.UserNotFoundError:
            auth.create_user(uid=uid, password=reference_data.DEMO_PASSWORD, app=app, **profile)
            current_claims: dict[str, object] = {}
        else:
            changes = {k: v for k, v in profile.items() if getattr(user, k) != v}
            if changes:  # an e-mail change revokes as well, but only where it differs
                auth.update_user(uid, app=app, **changes)
            if not signs_in(profile["email"]):
                auth.update_user(uid, password=reference_data.DEMO_PASSWORD, app=app)
            current_claims = user.custom_claims or {}
        if current_claims != claims:
            auth.set_custom_user_claims(uid, claims or None, app=app)
    return [uid for uid, _, _ in accounts]


def signs_in(email: str) -> bool:
    """Whether the Auth emulator signs `email` in with the demo password."""
    host = os.environ["FIREBASE_AUTH_EMULATOR_HOST"]
    answer = requests.post(
        f"http://{host}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=any",
        json={"email": email, "password": reference_data.DEMO_PASSWORD},
        timeout=10,
    )
    return answer.status_code == 200


def main() -> None:
    if not os.environ.get("FIREBASE_AUTH_EMULATOR_HOST"):
        sys.exit("seed_auth: FIREBASE_AUTH_EMULATOR_HOST is not set; this only seeds the emulator")
    app = firebase_admin.initialize_app(options={"projectId": project_id()}, name="seed-auth")
    uids = seed_accounts(app)
    print(f"seed_auth: {len(uids)} sign-in accounts, password {reference_data.DEMO_PASSWORD!r}")


if __name__ == "__main__":
    main()
