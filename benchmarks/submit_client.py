"""A simulated applicant for bench_submit.py: one browser session speaking plain HTTP to the server.

Each step is what the pages' forms post (CSRF token from the cookie, the same fields); every request
is timed. No JavaScript: the autosave is the htmx request the page would send.
"""

from __future__ import annotations

import hashlib
import http.client
import random
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

PASSWORD = "bench-submit-2024"  # noqa: S105 (benchmark users in a throw-away database)
FRAME = "monozukuri/shoryokuka"
PLAN_FORM = {  # eligible for ものづくり 省力化(オーダーメイド)枠: 6,000万円 of machinery → 25,000,000円
    "version": "1",
    "purposes": "labor_saving",
    "e_machinery": "6,000万",
    "planned_wage": "1,200",
    "va_cagr": "3",
    "pay_cagr": "1.5",
}
MIB = 1024 * 1024


def pdf_bytes(seed: str, size: int = MIB) -> bytes:
    """A valid PDF of exactly `size` bytes (one page; the padding is a comment in its content stream),
    different for every seed so that every applicant's file has its own SHA-256."""
    rng = random.Random(seed)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
    ]

    def build(padding: int) -> bytes:
        text = b"BT /F1 12 Tf 72 770 Td (bench " + seed.encode() + b") Tj ET\n%"
        filler = bytes(rng.choice(alphabet) for _ in range(min(padding, 64)))
        stream = text + (filler * (padding // max(len(filler), 1) + 1))[:padding] + b"\n"
        body = [*objects, b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream"]
        out, offsets = bytearray(head), []
        for number, obj in enumerate(body, 1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + obj + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(body) + 1)
        out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(body) + 1, xref)
        return bytes(out)

    first = build(0)
    data = build(size - len(first))
    data = build(size - len(first) - (len(data) - size))  # the /Length digits and offsets grew
    assert len(data) == size, (len(data), size)
    return data


@dataclass
class Step:
    name: str
    started: float  # time.time()
    seconds: float
    status: int | None  # None: no response (connection refused or cut)
    error: str = ""


@dataclass
class Applicant:
    base: str
    email: str
    organization_id: int
    steps: list[Step] = field(default_factory=list)
    session: requests.Session = field(default_factory=requests.Session)
    application_id: int | None = None

    def clone(self) -> Applicant:
        """A second tab of the same browser: the same cookies, its own connection."""
        other = Applicant(self.base, self.email, self.organization_id, application_id=self.application_id)
        other.session.cookies.update(self.session.cookies)
        return other

    def _csrf(self) -> dict[str, str]:
        return {"X-CSRFToken": self.session.cookies.get("csrftoken", "")}

    def request(self, name: str, method: str, path: str, **kw: Any) -> requests.Response | None:
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 120)
        started, clock = time.time(), time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, **kw)
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
            self.steps.append(Step(name, started, time.perf_counter() - clock, None, error))
            return None
        self.steps.append(Step(name, started, time.perf_counter() - clock, response.status_code))
        return response

    def login(self) -> bool:
        self.request("login_page", "GET", "/accounts/login/")
        response = self.request(
            "login",
            "POST",
            "/accounts/login/",
            data={
                "username": self.email,
                "password": PASSWORD,
                "csrfmiddlewaretoken": self._csrf()["X-CSRFToken"],
            },
        )
        return response is not None and response.status_code == 302

    def new_draft(self) -> int | None:
        response = self.request(
            "new", "POST", "/applications/new/", data={"organization": self.organization_id, "frame": FRAME},
            headers=self._csrf(),
        )  # fmt: skip
        if response is None or response.status_code != 302:
            return None
        match = re.search(r"/applications/(\d+)/", response.headers.get("Location", ""))
        self.application_id = int(match[1]) if match else None
        return self.application_id

    def detail(self, name: str = "detail") -> requests.Response | None:
        return self.request(name, "GET", f"/applications/{self.application_id}/")

    def autosave(self) -> bool:
        response = self.request(
            "autosave", "POST", f"/applications/{self.application_id}/autosave/", data=PLAN_FORM,
            headers={**self._csrf(), "HX-Request": "true"},
        )  # fmt: skip
        return response is not None and response.status_code == 200

    def upload(self, content: bytes, name: str = "事業計画書.pdf") -> bool:
        response = self.request(
            "upload", "POST", f"/applications/{self.application_id}/attachments/",
            files={"file": (name, content, "application/pdf")}, headers=self._csrf(),
        )  # fmt: skip
        return response is not None and response.status_code == 302

    def submit(self, name: str = "submit") -> Reply | None:
        """The submit button's POST, through http.client: the load generator shares the server's two
        cores, so the measured step costs the client as little as possible (requests costs ~3 ms)."""
        url = urlsplit(self.base)
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.session.cookies)
        headers = {"Cookie": cookies, "X-CSRFToken": self._csrf()["X-CSRFToken"], "Content-Length": "0",
                   "Content-Type": "application/x-www-form-urlencoded"}  # fmt: skip
        started, clock = time.time(), time.perf_counter()
        try:
            conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=120)
            try:
                conn.request("POST", f"/applications/{self.application_id}/submit/", headers=headers)
                response = conn.getresponse()
                reply = Reply(
                    response.status, response.read().decode("utf-8", "replace"), dict(response.getheaders())
                )
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
            self.steps.append(Step(name, started, time.perf_counter() - clock, None, error))
            return None
        self.steps.append(Step(name, started, time.perf_counter() - clock, reply.status_code))
        return reply


@dataclass
class Reply:
    status_code: int
    text: str
    headers: dict[str, str]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
