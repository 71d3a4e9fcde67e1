"""Rows for page tests: a backend on the test host, a snapshot, samples, a live job."""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from backends import kernel, tunables
from swapadmin.core.models import Backend, Host, Job, Sample

HTMX = {"HX-Request": "true"}


def htmx(target: str) -> dict[str, str]:
    return {"HX-Request": "true", "HX-Target": target}


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    # The personas' passwords are hashed on creation; the real hasher's cost buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_overview(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test draws the overview's live region itself: one drawn by the test before (or
    a moment ago in the same test) would answer for LIVE_CACHE_SECONDS otherwise. Browser
    tests keep the cache, as production has it, so they hold it to the 2 s bound."""
    from swapadmin.web import views

    monkeypatch.setattr(views, "_live_cache", None)
    if request.node.get_closest_marker("browser") is None:
        monkeypatch.setattr(views, "LIVE_CACHE_SECONDS", 0)


@pytest.fixture
def as_user(client: Client) -> Any:
    def login(user: Any) -> Client:
        client.force_login(user)
        return client

    return login


# A snapshot shaped as core.sampler.take_sample writes it, built from the same dataclasses,
# so a change to their fields shows up here.
OBSERVED = {
    "meminfo": asdict(
        kernel.MemInfo(
            mem_total=8 << 30,
            mem_available=5 << 30,
            swap_total=2 << 30,
            swap_free=(2 << 30) - (512 << 20),
            swap_cached=16 << 20,
        )
    ),
    "rates": {"pswpin": 12.5, "pswpout": 40.0},
    "psi": asdict(kernel.Psi(3.25, 2.0, 1.0, 1000, 0.5, 0.2, 0.1, 100)),
    "tunables": asdict(
        tunables.Tunables(
            swappiness=60,
            page_cluster=3,
            zswap_enabled=True,
            zswap_compressor="lzo",
            zswap_max_pool_percent=20,
        )
    ),
    "unmanaged": [asdict(kernel.SwapArea("/dev/vdb2", "partition", 1 << 30, 100 << 20, -2))],
    "top": [asdict(kernel.ProcSwap(4242, "postgres", 300 << 20))],
}


@pytest.fixture
def observed_host(host_row: Host) -> Host:
    # A copy: a test may change its host's snapshot, and must not change the next test's.
    host_row.observed = copy.deepcopy(OBSERVED)
    host_row.observed_at = timezone.now()
    host_row.save()
    return host_row


@pytest.fixture
def vdb2_elsewhere(observed_host: Host) -> Backend:
    """The backend, destroyed, that manages ``observed_host``'s /dev/vdb2 under a second name
    of the same machine (renamed, a second worker): it covers the area once it is not
    absent."""
    observed_host.machine_id = "0123456789abcdef0123456789abcdef"
    observed_host.save(update_fields=["machine_id"])
    other = Host.objects.create(
        name="oldname", machine_id=observed_host.machine_id, kernel_release="test"
    )
    return Backend.objects.create(
        host=other,
        kind="block",
        name="was-vdb2",
        params={"device": "/dev/vdb2"},
        desired_state=Backend.Desired.ABSENT,
        observed_state=Backend.Observed.ABSENT,
    )


def cover(backend: Backend) -> None:
    """``backend`` back in use (inactive, its store ready): it covers its area again."""
    backend.observed_state = Backend.Observed.READY
    backend.desired_state = Backend.Desired.INACTIVE
    backend.save()


@pytest.fixture
def backend(host_row: Host, swap_root: Path) -> Backend:
    return Backend.objects.create(
        host=host_row,
        kind="file",
        name="swap1",
        params={"path": str(swap_root / "swap1")},
        size_bytes=256 << 20,
        priority=10,
        observed_state=Backend.Observed.READY,
        provisioned_at=timezone.now(),
        header={
            "version": 1,
            "page_size": 4096,
            "last_page": 65535,
            "nr_badpages": 2,
            "badpages": [7, 9],
            "uuid": "0b1c2d3e-0000-4000-8000-000000000001",
            "label": "fastswap",
        },
        info={
            "kind": "file",
            "path": str(swap_root / "swap1"),
            "filesystem": "ext4",
            "exists": True,
            "extents": 3,
            "problems": [],
            "file_size_bytes": 256 << 20,
        },
    )


@pytest.fixture
def running_job(backend: Backend) -> Job:
    return Job.objects.create(
        kind=Job.Kind.SCAN,
        host=backend.host,
        backend=backend,
        backend_name=backend.name,
        state=Job.State.RUNNING,
        progress=42,
        progress_message="pattern 2 of 4",
        log="started scan\nwrote pattern 1\n",
        started_at=timezone.now(),
    )


def make_samples(host: Host, count: int, step: timedelta, resolution: str, **values: Any) -> None:
    now = timezone.now()
    Sample.objects.bulk_create(
        Sample(
            host=host,
            at=now - step * i,
            resolution=resolution,
            swap_total=2 << 30,
            swap_free=(2 << 30) - (i << 20),
            mem_available=4 << 30,
            pswpin_rate=i,
            pswpout_rate=2 * i,
            **values,
        )
        for i in range(count)
    )


# ---- browser tests: Playwright driving Debian's Chromium ----

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)"
        )
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # are still plain synchronous code, which Django would otherwise refuse.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        # Not for the rest of the session: subprocesses inherit the environment, and
        # production checks rightly refuse it.
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield page
    finally:
        context.close()


def log_in(page: Any, base_url: str, username: str) -> None:
    from tests.fixtures.people import PASSWORD

    page.goto(base_url + "/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(base_url + "/")


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def mark_no_reload(page: Any) -> None:
    """Set a flag that a reload or navigation would wipe: ``still_same_document`` checks it."""
    page.evaluate("window.__swapadminNoReload = true")


def still_same_document(page: Any) -> bool:
    return bool(page.evaluate("window.__swapadminNoReload === true"))
