"""What the image, job and live-offer routes take, and the schemas /docs shows for them.

Their body is a form (multipart, for files) or JSON (with a `url`) on the same route, so it is
read by hand (`request_fields`, through `uploads.form_of`), not by FastAPI's own form parsing,
which takes one kind of body per route, spools uploads in the process's temporary folder, and
answers a body cut off at the Guard's size limit (413) or a full disk (507) with a 400.
`MediaRequest.parse` checks the fields into typed values with the option parsers (`requests`,
`jobs`): the only validation, and the one-line errors clients get.

The Pydantic models here are what `request_body` declares for /docs (`openapi_extra`). Their
option fields are strings to Pydantic (all a form field or a query string holds), documented with
the type the option parsers accept; they validate nothing, so they can describe a query string
too (`live.LiveFields` is the MJPEG route's query model).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, Field, WithJsonSchema
from starlette.datastructures import UploadFile

from ..temporal import DEFAULT_MODE, MODE_NAMES
from .jobs import JobOptions
from .requests import MAX_HEIGHT, ImageOptions
from .state import ServiceDep
from .uploads import IMAGE_FORMATS, VIDEO_CONTAINERS, form_of, upload

Options = TypeVar("Options", bound=ImageOptions)

Text = Annotated[str | None, WithJsonSchema({"type": "string"})]
Number = Annotated[str | None, WithJsonSchema({"type": "number"})]
Integer = Annotated[str | None, WithJsonSchema({"type": "integer"})]
Flag = Annotated[str | None, WithJsonSchema({"type": "boolean"})]
Mode = Annotated[str | None, WithJsonSchema({"enum": list(MODE_NAMES)})]
FileField = Annotated[bytes | None, WithJsonSchema({"type": "string", "format": "binary"})]  # a file upload

STYLE_IMAGE = "any picture as the style (with no `style`, painted by the arbitrary-style network)"


async def request_fields(request: Request, service: ServiceDep) -> AsyncIterator[dict]:
    """The dependency reading the body's fields, its uploads closed once the response is sent."""
    async with form_of(request, service.spool) as fields:
        yield fields


Fields = Annotated[dict, Depends(request_fields)]


@dataclass
class MediaRequest(Generic[Options]):
    """An image or a video job asked for, checked: the options, the file or the URL to paint, and
    a style image."""

    options: Options
    file: UploadFile | None
    style_image: UploadFile | None
    url: object  # as sent: `uploads.check_url` checks it where it is used, off the event loop (DNS)

    @classmethod
    def parse(cls, fields: dict, options: type[Options], file_field: str) -> MediaRequest[Options]:
        return cls(options.parse(fields), upload(fields, file_field), upload(fields, "style_image"),
                   fields.get("url"))


def image_request(fields: Fields) -> MediaRequest[ImageOptions]:
    """The dependency of `POST /v1/images`."""
    return MediaRequest.parse(fields, ImageOptions, "image")


def video_request(fields: Fields) -> MediaRequest[JobOptions]:
    """The dependency of `POST /v1/jobs`."""
    return MediaRequest.parse(fields, JobOptions, "video")


def request_body(form: type[BaseModel] | None, json: type[BaseModel]) -> dict:
    """`openapi_extra` for a route reading its body with `request_fields`: `form` as
    multipart/form-data (or none), `json` as application/json."""
    content = {"application/json": {"schema": json.model_json_schema()}}
    if form is not None:
        content = {"multipart/form-data": {"schema": form.model_json_schema()}, **content}
    return {"requestBody": {"required": True, "content": content}}


class ImageFields(BaseModel):
    """An image's options."""

    style: Text = Field(None, description="a style `GET /v1/styles` lists, or a blend of them such as "
                                                "`starry:0.7,udnie:0.3` (default: the default style)")
    strength: Number = Field(None, description="how much of the style, from 0 (the picture itself) to 1 "
                                               "(default: the style's own)")
    stroke: Number = Field(None, description="the brush strokes' size relative to the style's own: 2 twice as coarse")
    height: Integer = Field(None, description=f"the height to paint at (default: the picture's, at most {MAX_HEIGHT})")
    lite: Flag = Field(None, description="the style's lighter, faster network")


class SmoothedFields(ImageFields):
    """The options of a video or a live view: an image's and the smoothing between frames."""

    temporal: Mode = Field(None, description=f"how frames are smoothed against flicker (default {DEFAULT_MODE})")
    temporal_strength: Number = Field(None, description="how strongly, from 0 to 1 (default: the style's own)")


class JobFields(SmoothedFields):
    """A video job's options."""

    duration: Number = Field(None, description="seconds of an rtsp:// stream to record (default: until it ends "
                                               "or the job is cancelled)")


class ImageForm(ImageFields):
    """`POST /v1/images` as a form: the picture, or its URL."""

    image: FileField = Field(None, description=f"the picture: {', '.join(IMAGE_FORMATS.values())}")
    style_image: FileField = Field(None, description=STYLE_IMAGE)
    url: Text = Field(None, description="the picture's http(s) URL, instead of `image`")


class ImageJson(ImageFields):
    """`POST /v1/images` as JSON: the picture's URL."""

    url: str = Field(description="the picture's http(s) URL, fetched by the server")


class JobForm(JobFields):
    """`POST /v1/jobs` as a form: the video, or its URL."""

    video: FileField = Field(None, description=f"the video: {VIDEO_CONTAINERS}")
    style_image: FileField = Field(None, description=STYLE_IMAGE)
    url: Text = Field(None, description="the video's URL, instead of `video` (as in JSON)")


class JobJson(JobFields):
    """`POST /v1/jobs` as JSON: the video's URL."""

    url: str = Field(description="http(s): fetched whole; rtsp(s): recorded for `duration` s or until cancelled")
