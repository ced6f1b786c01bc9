"""The worker app and the review page in headless Chromium, on the session's local stack.

A requester makes work through the API; a worker signs up, finds it, claims it, fills it in and
submits in the browser; the requester approves it on the review page; the API shows each step.
Screenshots of each step at phone and desktop widths are written to .local/artifacts/app/.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.e2e.browser import LOW_CONTRAST, UNNAMED_CONTROLS, chromium, new_page, png, screenshots, wav
from tests.e2e.conftest import Session, new_account
from tests.support.samples import every_component
from tests.support.stack import RunningStack

pytestmark = pytest.mark.e2e
__all__ = ["chromium"]  # the module's browser fixture, used by the tests below

PASSWORD = "a long enough passphrase"
BERLIN = {"lat": 52.5200, "lng": 13.4050}


def expect_visible(page: Any, text: str) -> None:
    page.get_by_text(text, exact=False).first.wait_for(state="visible")


def requester_media(api: RunningStack) -> dict[str, str]:
    """Images and a sound the requester hosts (in the local S3), as the task's display components use.

    The app's Content-Security-Policy allows https media from anywhere, and http only from the media
    bucket's origin: locally that is the S3 endpoint, so the requester's files are served there too.
    """
    s3 = api.client("s3")
    bucket = f"requester-media-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    urls = {}
    for key, body, kind in (
        ("cat.png", png(), "image/png"),
        ("dog.png", png(48, 64), "image/png"),
        ("purr.wav", wav(), "audio/wav"),
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=kind, ACL="public-read")
        urls[key] = f"{api.info['s3_url']}/{bucket}/{key}"  # the S3 endpoint browsers reach
    return urls


def publish(owner: Session, task: dict[str, Any], title: str, results: int = 1) -> tuple[str, str]:
    """A published campaign of one job of one task, open for `results` results: (campaign id, job id)."""
    created = owner.call("POST", "/tasks", json=task)
    assert created.status_code == 201, created.text
    job = owner.call("POST", "/jobs", json={"name": title}).json()["id"]
    assert owner.call("PUT", f"/jobs/{job}/tasks", json=[created.json()["id"]]).status_code == 200
    body = {"name": title, "title": title, "workerPayment": 0.5, "results": results}
    campaign = owner.call("POST", "/campaigns", json=body).json()["id"]
    assert owner.call("PUT", f"/campaigns/{campaign}/jobs", json=[job]).status_code == 200
    published = owner.call("POST", f"/campaigns/{campaign}/publish")
    assert published.status_code == 200, published.text
    return campaign, job


def a_cat_task(media: dict[str, str], title: str) -> dict[str, Any]:
    """A region-based task of every component that needs no upload (the full catalogue is tested below)."""
    return {
        "name": title,
        "details": "<p>Look <b>closely</b> at the cat.</p>",
        "region_based": True,
        **BERLIN,
        "radius": 2000,
        "components": [
            {"type": "Text", "text": "About the cat", "style": "H1"},
            {"type": "Text", "text": "<p>An <em>indoor</em> cat</p>", "style": "Html"},
            {"type": "Image", "url": media["cat.png"]},
            {"type": "Audio", "url": media["purr.wav"], "mustListen": True},
            {"type": "BinaryChoice", "option1": "Yes", "option2": "No"},
            {
                "type": "BinaryImageChoice",
                "option1": {"id": "tabby", "url": media["cat.png"], "label": "Tabby"},
                "option2": {"id": "dog", "url": media["dog.png"], "label": "Dog"},
            },
            {"type": "Rating", "steps": 5},
            {"type": "Stepper", "min": 0, "max": 10, "step": 2, "start": 4},
            {"type": "TextInput", "hint": "Its name"},
            {"type": "Toggle", "label": "Sleeping", "explanation": "Is the cat asleep?"},
        ],
        "components_attributes": [
            {
                "component_type": "tags_collection",
                "name": "tags",
                "label": "Tags",
                "extra": {"values": [{"value": 1, "text": "cat"}, {"value": "indoor", "text": "Indoor"}]},
            },
            {
                "component_type": "text_area",
                "name": "notes",
                "label": "Notes",
                "extra": {"character_limit": 40},
            },
        ],
    }


def component(page: Any, index: int) -> Any:
    return page.locator(f"#task-0-component-{index}")


def sign_up(page: Any, email: str) -> None:
    page.get_by_role("button", name="New here? Create a worker account").click()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("heading", name="Jobs", level=1).wait_for()


def sign_in(page: Any, email: str, password: str) -> None:
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def unnamed(page: Any) -> list[str]:
    found: list[str] = page.evaluate(UNNAMED_CONTROLS)
    return found


def low_contrast(page: Any) -> list[str]:
    found: list[str] = page.evaluate(LOW_CONTRAST)
    return found


def test_a_worker_finds_a_nearby_job_in_the_browser_and_a_requester_approves_it(api, chromium, requester):
    # Given a published region-based job in Berlin
    title = f"Describe the cat {uuid.uuid4().hex[:6]}"
    campaign, _ = publish(requester, a_cat_task(requester_media(api), title), title)
    worker_email = f"worker-{uuid.uuid4().hex[:10]}@example.com"
    page = new_page(
        chromium,
        geolocation={"latitude": 52.5201, "longitude": 13.4052},
        permissions=["geolocation"],
    )

    # When a worker opens the app (without its slash) and signs up
    page.goto(f"{api.url}/app")
    assert page.url == f"{api.url}/app/"
    page.get_by_role("heading", name="Sign in to find work").wait_for()
    assert unnamed(page) == []
    screenshots(page, "01-sign-in")
    sign_up(page, worker_email)

    # Then the job is not listed until the worker shares a position, then it is
    assert page.get_by_role("heading", name=title).count() == 0
    page.get_by_role("button", name="Use my location for nearby jobs").click()
    page.get_by_role("heading", name=title).wait_for()
    screenshots(page, "02-market")

    # When the worker claims it, the task view shows every component with a name
    page.get_by_role("button", name=f"Claim {title}").click()
    page.get_by_role("heading", name="Your task", level=1).wait_for()
    assert page.evaluate("document.activeElement.textContent") == "Your task"
    assert page.locator(".details b").inner_text() == "closely"  # sanitised requester HTML, as HTML
    assert page.locator(".text-html em").inner_text() == "indoor"
    assert unnamed(page) == []
    screenshots(page, "03-task")

    # When it submits nothing, each required component says what is missing, before any request
    page.get_by_role("button", name="Submit").click()
    summary = page.locator(".summary")
    summary.wait_for()
    assert "answers need attention" in summary.inner_text()
    assert component(page, 3).locator(".field-error").inner_text() == "Listen to the whole clip first."
    assert component(page, 4).locator(".field-error").inner_text() == "Choose one of the options."
    assert component(page, 6).locator(".field-error").inner_text() == "Choose a number of stars."
    assert component(page, 10).locator(".field-error").inner_text() == "Select at least one tag."
    assert component(page, 11).locator(".field-error").inner_text() == "Enter some text."
    assert component(page, 8).get_by_role("textbox").get_attribute("aria-invalid") == "true"
    assert low_contrast(page) == []
    screenshots(page, "04-validation")

    # When it fills every component, with an option the API does not know in the yes/no
    page.evaluate("document.querySelector('#task-0-component-3 audio').play()")
    page.wait_for_function("() => document.querySelector('#task-0-component-3 audio').ended", timeout=10_000)
    page.evaluate("document.querySelector('#task-0-component-4 input').value = 'Maybe'")
    component(page, 4).get_by_text("Yes").click()
    component(page, 5).get_by_text("Tabby").click()
    component(page, 6).get_by_text("4 stars").click()
    component(page, 7).get_by_role("button", name="Increase").click()
    component(page, 8).get_by_label("Its name").fill("Tom")
    component(page, 9).get_by_label("Sleeping").check()
    component(page, 10).get_by_text("cat", exact=True).click()
    component(page, 10).get_by_text("Indoor").click()
    component(page, 11).get_by_label("Notes").fill("Fluffy and calm")
    page.get_by_role("button", name="Submit").click()

    # Then the API's 422 is shown next to the component it names
    error = component(page, 4).locator(".field-error")
    error.wait_for()
    assert "option1 or option2" in error.inner_text()
    assert "option1 or option2" in summary.inner_text()
    screenshots(page, "05-api-error")

    # When the worker corrects it and submits again
    component(page, 4).get_by_text("No").click()
    page.get_by_role("button", name="Submit").click()
    page.get_by_role("heading", name="Submitted, thank you").wait_for()
    screenshots(page, "06-submitted")

    # Then the result arrives through the API with every answer in the catalogue's shape
    results = requester.call("GET", f"/campaigns/{campaign}/results", params={"state": "InReview"}).json()
    (result,) = results["results"]
    answers = [c.get("result") for c in result["taskResults"][0]["components"]]
    assert answers == [
        None,
        None,
        None,
        None,
        {"selectedOption": "No"},
        {"selectedOption": "tabby"},
        {"rating": 4},
        {"result": 6},
        {"text": "Tom"},
        {"checked": True},
        {"values": [1, "indoor"]},
        {"text": "Fluffy and calm"},
    ]

    # And the worker sees the payment pending, and no open assignment
    page.get_by_role("link", name="Earnings").click()
    page.get_by_role("heading", name="Points and earnings").wait_for()
    assert page.locator("dt:has-text('Pending review') + dd").inner_text() == "0.5 USD"
    page.get_by_role("link", name="My assignments").click()
    expect_visible(page, "No open assignment")

    # When the requester approves it on the review page
    review = new_page(chromium)
    review.goto(f"{api.url}/app/review")
    review.get_by_role("heading", name="Sign in to review results").wait_for()
    sign_in(review, requester.email, requester.password)
    review.get_by_label("Campaign").select_option(campaign)
    card = review.locator(f"[data-result='{result['id']}']")
    card.wait_for()
    assert "Tom" in card.inner_text() and "4 stars" in card.inner_text()
    assert unnamed(review) == [] and low_contrast(review) == []
    screenshots(review, "07-review")
    card.get_by_role("textbox", name=re.compile("Message or reason")).fill("Well spotted")
    card.get_by_role("button", name="Approve").click()
    review.get_by_text("Nothing to review.").wait_for()
    screenshots(review, "08-reviewed")

    # Then the API shows it approved with the message, and the worker is paid
    approved = requester.call("GET", f"/results/{result['id']}").json()
    assert approved["state"] == "Approved" and approved["message"] == "Well spotted"
    page.get_by_role("link", name="Earnings").click()
    page.locator("dt:has-text('Paid') + dd").filter(has_text="0.5 USD").wait_for()
    assert Decimal(page.locator("dt:has-text('Points') + dd").inner_text()) == 1
    refused = "the server responded with a status of 422"  # the deliberately refused submission
    assert [e for e in page.console_errors if refused not in e] == [] and review.console_errors == []
    assert len(page.console_errors) == 1

    # And signing out discards the token: the app asks to sign in again
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in to find work").wait_for()
    assert page.evaluate("sessionStorage.length") == 0


def test_sign_in_and_a_component_work_with_the_keyboard_alone(api, chromium, requester):
    # Given a worker with an open assignment of a task with an image marker and a rating
    title = f"Mark the cat {uuid.uuid4().hex[:6]}"
    task = {
        "name": title,
        "components": [
            {"type": "ImageMarker", "url": requester_media(api)["cat.png"]},
            {"type": "Rating", "steps": 3},
        ],
    }
    _, job = publish(requester, task, title)
    worker = new_account(api, role="worker")
    claimed = worker.call("POST", f"/market/jobs/{job}/claim")
    assert claimed.status_code == 201, claimed.text
    page = new_page(chromium)
    page.goto(f"{api.url}/app/")
    page.get_by_role("heading", name="Sign in to find work").wait_for()

    # When it signs in with the keyboard only: focus starts on the heading
    assert page.evaluate("document.activeElement.tagName") == "H1"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "email"
    page.keyboard.type(worker.email)
    page.keyboard.press("Tab")
    page.keyboard.type(worker.password)
    page.keyboard.press("Enter")

    # Then the market opens with the focus on its heading
    page.get_by_role("heading", name="Jobs", level=1).wait_for()
    assert page.evaluate("document.activeElement.textContent") == "Jobs"

    # When it tabs to the image marker, moves the cross and places a mark, then rates with the arrows
    page.goto(f"{api.url}/app/#/assignment/{claimed.json()['id']}")
    page.get_by_role("heading", name="Your task").wait_for()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('role')") == "application":
            break
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    assert page.locator(".marks li").all_inner_texts() == ["Mark 1: 60% across, 45% down"]
    page.keyboard.press("Backspace")
    assert page.locator(".marks li").count() == 0
    page.keyboard.press("Enter")
    for _ in range(6):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.type") == "radio":
            break
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    checked = page.locator("#task-0-component-1 input:checked")
    assert checked.get_attribute("value") == "2"
    screenshots(page, "09-keyboard")

    # And the open assignment is listed with its deadline; releasing it gives the slot back
    page.get_by_role("link", name="My assignments").click()
    listed = page.locator("li.card", has_text=claimed.json()["id"])
    assert listed.locator("time").first.get_attribute("datetime") == claimed.json()["deadline"]
    listed.get_by_role("link", name="Continue").click()
    page.get_by_role("button", name="Release this job").click()
    page.get_by_role("heading", name="Jobs", level=1).wait_for()
    assert worker.call("GET", f"/assignments/{claimed.json()['id']}").json()["state"] == "released"
    assert page.console_errors == []


def test_the_review_page_rejects_and_asks_for_a_redo_with_reasons(api, chromium, requester):
    # Given two results in review, submitted through the API
    title = f"Yes or no {uuid.uuid4().hex[:6]}"
    task = {"name": title, "components": [{"type": "BinaryChoice", "option1": "Yes", "option2": "No"}]}
    campaign, job = publish(requester, task, title, results=2)
    ids = []
    for _ in range(2):
        worker = new_account(api, role="worker")
        claim = worker.call("POST", f"/market/jobs/{job}/claim")
        assert claim.status_code == 201, claim.text
        choice = {"result": {"selectedOption": "No"}}
        answer = {"taskResults": [{"task": claim.json()["tasks"][0]["id"], "components": [choice]}]}
        submitted = worker.call("POST", f"/assignments/{claim.json()['id']}/submit", json=answer)
        assert submitted.status_code == 201, submitted.text
        ids.append(submitted.json()["id"])
    review = new_page(chromium)
    review.goto(f"{api.url}/app/review")
    sign_in(review, requester.email, requester.password)
    review.get_by_label("Campaign").select_option(campaign)
    first = review.locator(f"[data-result='{ids[0]}']")
    first.wait_for()

    # When the requester rejects without a reason, the page asks for one and sends nothing
    first.get_by_role("button", name="Reject", exact=True).click()
    assert first.locator(".form-error").inner_text() == "Give a reason for the worker."
    assert requester.call("GET", f"/results/{ids[0]}").json()["state"] == "InReview"

    # When it asks for a redo with a reason and a time, then rejects another with a reason
    first.get_by_role("textbox", name=re.compile("Message or reason")).fill("Look again at the picture")
    first.get_by_label("Redo allowed until (soft-reject)").fill("2099-01-02T03:04")
    first.get_by_role("button", name="Ask for a redo (soft-reject)").click()
    first.wait_for(state="detached")
    soft = requester.call("GET", f"/results/{ids[0]}").json()
    # Then the API holds each decision with its reason
    assert soft["state"] == "SoftRejected" and soft["reason"] == "Look again at the picture"
    assert soft["until"].startswith("2099-01-0")
    second = review.locator(f"[data-result='{ids[1]}']")
    second.get_by_role("textbox", name=re.compile("Message or reason")).fill("Not a real answer")
    second.get_by_role("button", name="Reject", exact=True).click()
    review.get_by_text("Nothing to review.").wait_for()
    rejected = requester.call("GET", f"/results/{ids[1]}").json()
    assert rejected["state"] == "Rejected" and rejected["reason"] == "Not a real answer"
    assert review.console_errors == []


def record(page: Any, index: int, seconds: float) -> None:
    """Record from Chromium's fake device and wait for the upload."""
    field = component(page, index)
    field.get_by_role("button", name=re.compile("^(Start .* recording|Record again)$")).click()
    page.wait_for_timeout(seconds * 1000)
    field.get_by_role("button", name="Stop recording").click()
    field.get_by_text("Uploaded.").wait_for(timeout=60_000)


def test_every_component_in_the_browser_recordings_uploaded_and_played_on_review(api, chromium, requester):
    # Given a published job whose task holds every component of the catalogue
    title = f"The whole catalogue {uuid.uuid4().hex[:6]}"
    campaign, _ = publish(requester, every_component(requester_media(api), title), title)
    page = new_page(chromium)
    page.goto(f"{api.url}/app/")
    sign_up(page, f"worker-{uuid.uuid4().hex[:10]}@example.com")

    # When the worker claims it, every component shows, with a name for every control
    page.get_by_role("button", name=f"Claim {title}").click()
    page.get_by_role("heading", name="Your task", level=1).wait_for()
    kinds = page.locator(".component").evaluate_all("(all) => all.map((e) => e.dataset.kind)")
    assert kinds == [
        *("Text", "Image", "Audio", "Video", "AudioRecording", "VideoRecording", "ImageMarker"),
        *("BinaryImageChoice", "BinaryChoice", "Rating", "Stepper", "TextInput", "Toggle"),
        *("media", "tags_collection", "text_area"),
    ]
    assert unnamed(page) == [] and low_contrast(page) == []
    screenshots(page, "10-catalogue")

    # When it records too short a clip, the app says so before anything is submitted
    field = component(page, 4)
    field.get_by_role("button", name="Start audio recording").click()
    field.get_by_role("button", name="Stop recording").click()
    field.get_by_text("Record at least 1 s.").wait_for()

    # When it records audio and video from the fake devices, marks the image and fills the rest
    record(page, 4, 1.6)
    record(page, 5, 1.6)
    surface = component(page, 6).locator(".marker-surface")
    surface.click(position={"x": 40, "y": 30})
    surface.click(position={"x": 120, "y": 90})
    assert component(page, 6).locator(".marks li").count() == 2
    component(page, 7).get_by_text("Dog").click()
    component(page, 8).get_by_text("Outside").click()
    component(page, 9).get_by_text("2.5 stars").click()
    component(page, 10).get_by_role("button", name="Increase").click()
    component(page, 10).get_by_role("button", name="Increase").click()
    photo = png(32, 32)
    component(page, 13).get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.png", "mimeType": "image/png", "buffer": photo}
    )
    component(page, 14).get_by_text("Busy").click()
    screenshots(page, "11-catalogue-filled")

    # When a number is typed out of the stepper's range or off its steps, the app refuses it before sending
    stepper = component(page, 10).get_by_role("spinbutton")
    for typed, message in (
        ("3.5", "The number must be at most 3."),
        ("1.2", "The number must be 1 plus a multiple of 0.5."),
    ):
        stepper.fill(typed)
        page.get_by_role("button", name="Submit").click()
        assert component(page, 10).locator(".field-error").inner_text() == message
    stepper.fill("2")
    page.get_by_role("button", name="Submit").click()
    # two uploads and a submit that checks them: the first call of a function starts its process
    page.get_by_role("heading", name="Submitted, thank you").wait_for(timeout=90_000)

    # Then the result arrives through the API, its media downloadable from storage
    (result,) = requester.call("GET", f"/campaigns/{campaign}/results", params={"state": "InReview"}).json()[
        "results"
    ]
    entries = result["taskResults"][0]["components"]
    answers = [entry.get("result") for entry in entries]
    assert answers[:4] == [None] * 4 and answers[11] is None and answers[15] is None
    assert answers[7:11] == [
        {"selectedOption": "dog"},
        {"selectedOption": "Outside"},
        {"rating": 2.5},
        {"result": 2},
    ]
    assert answers[12] == {"checked": True} and answers[14] == {"values": ["busy"]}
    downloads = {}
    for index in (4, 5, 6, 13):
        got = requests.get(entries[index]["downloadUrl"], timeout=10)
        assert got.status_code == 200, (index, got.text[:200])
        downloads[index] = got
    assert downloads[4].headers["Content-Type"].startswith("audio/") and len(downloads[4].content) > 1000
    assert downloads[5].headers["Content-Type"].startswith("video/") and len(downloads[5].content) > 1000
    assert downloads[6].content.startswith(b"\x89PNG")  # the drawing
    assert downloads[13].content == photo

    # When the requester opens it on the review page, the recordings play from their download URLs
    review = new_page(chromium)
    review.goto(f"{api.url}/app/review")
    sign_in(review, requester.email, requester.password)
    review.get_by_label("Campaign").select_option(campaign)
    card = review.locator(f"[data-result='{result['id']}']")
    card.wait_for()
    for player in ("audio", "video"):
        card.locator(player).first.wait_for()
        review.wait_for_function(f"() => document.querySelector('[data-result] {player}').readyState >= 1")
    screenshots(review, "12-catalogue-review")
    card.get_by_role("button", name="Approve").click()
    review.get_by_text("Nothing to review.").wait_for()

    # Then the API shows it approved
    assert requester.call("GET", f"/results/{result['id']}").json()["state"] == "Approved"
    assert page.console_errors == [] and review.console_errors == []


def test_a_refused_submission_sent_again_uploads_only_what_was_refused(api, chromium, requester):
    # Given a published job whose task asks for marks on an image, a word and a photo
    title = f"Mark and photograph {uuid.uuid4().hex[:6]}"
    media = requester_media(api)
    task = {
        "name": title,
        "components": [{"type": "ImageMarker", "url": media["cat.png"]}, {"type": "TextInput"}],
        "components_attributes": [{"component_type": "media", "name": "photo", "label": "Photo"}],
    }
    campaign, _ = publish(requester, task, title)
    page = new_page(chromium)
    grants: list[str] = []
    page.on("request", lambda r: r.method == "POST" and r.url.endswith("/uploads") and grants.append(r.url))
    page.goto(f"{api.url}/app/")
    sign_up(page, f"worker-{uuid.uuid4().hex[:10]}@example.com")
    page.get_by_role("button", name=f"Claim {title}").click()
    page.get_by_role("heading", name="Your task", level=1).wait_for()
    component(page, 0).locator(".marker-surface").click(position={"x": 40, "y": 30})
    component(page, 1).get_by_role("textbox").fill("cat")
    photo = png(24, 24)
    component(page, 2).get_by_label("Take or choose a photo").set_input_files(
        {"name": "photo.png", "mimeType": "image/png", "buffer": photo}
    )

    # When its submissions are refused, first naming the word, then the photo (422s staged here)
    refusals = [
        {"errors": [{"field": f"taskResults[0].components[{n}]{part}", "message": text, "code": "X"}]}
        for n, part, text in ((2, ".result", "Another photo, please."), (1, "", "Another word, please."))
    ]

    def refuse(route: Any) -> None:
        if refusals:
            route.fulfill(status=422, content_type="application/json", json=refusals.pop())
        else:
            route.continue_()

    page.route("**/submit", refuse)
    page.get_by_role("button", name="Submit").click()
    component(page, 1).get_by_text("Another word, please.").wait_for()
    assert len(grants) == 2  # the drawing and the photo
    page.get_by_role("button", name="Submit").click()
    component(page, 2).get_by_text("Another photo, please.").wait_for()
    assert len(grants) == 2  # kept: nothing was uploaded again
    page.get_by_role("button", name="Submit").click()
    page.get_by_role("heading", name="Submitted, thank you").wait_for(timeout=90_000)

    # Then only the photo the server refused was uploaded again, and the result holds both
    assert len(grants) == 3
    listed = requester.call("GET", f"/campaigns/{campaign}/results", params={"state": "InReview"})
    (result,) = listed.json()["results"]
    entries = result["taskResults"][0]["components"]
    assert requests.get(entries[2]["downloadUrl"], timeout=10).content == photo
    assert requests.get(entries[0]["downloadUrl"], timeout=10).content.startswith(b"\x89PNG")
    assert [e for e in page.console_errors if "status of 422" not in e] == []  # the refusals staged above
