"""The web app every stage serves: which instance and AZ answered, your visits, the latest messages.

Routes (the contract the load balancer, CloudFront and the tests rely on):

- `GET /`: an HTML page naming the instance and AZ that served it, the visitor's page count
  for their session (cookie `sbs_session`) and the latest messages (or why they are missing);
- `POST /messages` (form field `text`): add a message on the DB writer, then 303 to `/`;
- `GET /static/<name>`: the app's assets (from stage 6 also in S3 behind CloudFront, same paths);
- `GET /health`: 200 `ok`, no DB call (load balancer health checks hit it);
- `GET /whoami`: JSON `{"instance_id", "az", "session_views"}` (counts as a visit, like `/`).

Every response carries `X-Instance-Id` and `X-Availability-Zone`.
"""

from __future__ import annotations

import asyncio
import html
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web

from . import data, sessions

COOKIE = "sbs_session"
STATIC = Path(__file__).with_name("static")
MAX_TEXT = 500  # characters in a message (the column is VARCHAR(500))

CONFIG = web.AppKey("config", dict)
STATE = web.AppKey("state", dict)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _boto3_client(config: dict):
    def make(service: str):
        import boto3  # on the instance: credentials from its instance profile, as boto3 finds them

        return boto3.client(service, region_name=config.get("region") or "us-east-1")

    return make


def create_app(config: dict, *, instance_id: str, az: str, resolve=None, clock=_utcnow,
               aws_client=None, middlewares=()) -> web.Application:
    """The app for one instance. `config`: sessions, db, cache (see docs/local-web.md);
    `resolve(name, port) -> (host, port) | None` maps AWS names to addresses (default: as given);
    `aws_client(service)`: a boto3 client (DynamoDB sessions, the DB password's secret), default
    boto3's for `config["region"]`; `middlewares`: e.g. the local AWS's CPU model."""
    aws_client = aws_client or _boto3_client(config)
    db = config.get("db")
    app = web.Application(middlewares=list(middlewares))
    app[CONFIG] = config
    app[STATE] = {
        "instance_id": instance_id, "az": az, "clock": clock,
        "sessions": sessions.from_config(config, aws_client),
        "messages": data.Messages(db, config.get("cache"), resolve or data.identity,
                                  aws_client("secretsmanager") if db and db.get("password_secret") else None),
        # PyMySQL, redis and boto3 block: a few threads per instance, so a slow query stalls no one else
        "pool": ThreadPoolExecutor(4, thread_name_prefix=f"webapp-{instance_id}"),
    }

    async def stamp(request, response):  # on every response, errors included
        response.headers["X-Instance-Id"] = instance_id
        response.headers["X-Availability-Zone"] = az

    async def cleanup(app):
        state = app[STATE]
        state["pool"].shutdown(wait=False, cancel_futures=True)
        state["messages"].close()

    app.on_response_prepare.append(stamp)
    app.on_cleanup.append(cleanup)
    app.router.add_get("/", index)
    app.router.add_post("/messages", add_message)
    app.router.add_get("/health", health)
    app.router.add_get("/whoami", whoami)
    app.router.add_static("/static", STATIC)
    return app


async def _blocking(request, fn, *args):
    return await asyncio.get_running_loop().run_in_executor(request.app[STATE]["pool"], fn, *args)


async def _visit(request) -> tuple[str, int]:
    """The session id (new if the cookie is missing or odd) and its page count after this visit."""
    store = request.app[STATE]["sessions"]
    sid = request.cookies.get(COOKIE, "")
    if not (8 <= len(sid) <= 64 and sid.replace("-", "").replace("_", "").isalnum()):
        sid = secrets.token_urlsafe(16)
    views = await _blocking(request, store.visit, sid) if store.blocking else store.visit(sid)
    return sid, views


def _with_cookie(response: web.Response, sid: str) -> web.Response:
    response.set_cookie(COOKIE, sid, httponly=True, samesite="Lax", path="/")
    return response


async def health(request) -> web.Response:
    return web.Response(text="ok")


async def whoami(request) -> web.Response:
    state = request.app[STATE]
    sid, views = await _visit(request)
    return _with_cookie(web.json_response({"instance_id": state["instance_id"], "az": state["az"],
                                           "session_views": views}), sid)


async def index(request) -> web.Response:
    state = request.app[STATE]
    sid, views = await _visit(request)
    try:
        found, source = await _blocking(request, state["messages"].latest)
        items = "".join(f"<li>{html.escape(m['text'])} <small>{html.escape(m['created_at'])}</small></li>"
                        for m in found) or "<li><em>no messages yet</em></li>"
        listing = f'<ul class="messages">{items}</ul><p class="source">read from the {source}</p>'
    except data.Unavailable as exc:
        listing = f'<p class="db-down">The database is unavailable: {html.escape(str(exc))}.</p>'
        source = "none"
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Scale, baby, scale!</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><img src="/static/logo.svg" alt="" class="logo"><h1>Scale, baby, scale!</h1>
<p class="served">Served by <b id="instance">{html.escape(state["instance_id"])}</b>
in <b id="az">{html.escape(state["az"])}</b>.</p>
<p class="views">You have seen this page <b id="views">{views}</b> time{"s" if views != 1 else ""} in this session.</p>
<h2>Messages</h2>{listing}
<form method="post" action="/messages"><input name="text" maxlength="{MAX_TEXT}" required>
<button>Post</button></form><script src="/static/app.js"></script></body></html>
"""
    response = web.Response(text=page, content_type="text/html")
    response.headers["X-Data-Source"] = source
    return _with_cookie(response, sid)


async def add_message(request) -> web.Response:
    state = request.app[STATE]
    try:
        form = await request.post()
    except ConnectionResetError:  # the client left before its form arrived (a run ending mid-request)
        return web.Response(status=400, text="the form did not arrive: the connection was closed\n")
    text = (form.get("text") or "")
    text = text.strip() if isinstance(text, str) else ""
    if not text or len(text) > MAX_TEXT:
        return web.Response(status=400, text=f"a message needs a form field 'text' of 1 to {MAX_TEXT} characters\n")
    try:
        await _blocking(request, state["messages"].add, text, state["clock"]())
    except data.Unavailable as exc:
        return web.Response(status=503, text=f"the message was not saved: {exc}\n")
    raise web.HTTPSeeOther("/")
