"""scripts/data/first_run.py keeps rendered pictures between starts: a second start renders
nothing, and gets the same bytes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from services.image_renderer import ImageSpec
from tests.support.scripts import load_script

SPECS = [ImageSpec(f"req-{n}", "Model A", "anime", "neon", "a cat", 64, 32) for n in range(5)]


def test_a_second_start_renders_nothing_and_gets_the_same_pictures(tmp_path, monkeypatch):
    first_run = load_script("data/first_run")
    monkeypatch.setattr(first_run, "CACHE", tmp_path / "seed-pictures")
    (tmp_path / "seed-pictures" / "an-older-renderer").mkdir(parents=True)
    rendered: list[str] = []

    def render_all(specs: Sequence[ImageSpec]) -> Iterator[bytes]:
        for spec in specs:
            rendered.append(spec.request_id)
            yield f"png of {spec.request_id}".encode()

    first = list(first_run.cached(render_all)(SPECS))
    assert rendered == [s.request_id for s in SPECS]
    second = list(first_run.cached(render_all)(SPECS[::-1]))
    assert rendered == [s.request_id for s in SPECS]  # nothing rendered again
    assert second == first[::-1]
    assert not (tmp_path / "seed-pictures" / "an-older-renderer").exists()
