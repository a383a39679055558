"""The answer drawn on the photo: boxes and labels on each face (the paper's Figure 3), as a picture or HTML.

``draw_predictions`` draws a :class:`helpers.predict.Prediction` on its photo as a PIL image
(and on a matplotlib axis); ``prediction_html`` lays the same boxes over the photo in HTML,
for widgets and web pages; ``example_html`` shows one labelled image beside the model's
answer (chapter 08's slider). Photos are decoded at most :data:`DRAW_MAX_SIDE` pixels on
their long side, so drawing a huge photo costs no more than drawing a large one.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .datasets import CLASS_NAMES
from .images import read_photo
from .predict import probability_of

if TYPE_CHECKING:
    from .predict import Prediction

#: Box colours, one per face in turn (the paper's Figure 3 uses one colour per box).
COLOURS = ("#ffd400", "#00e5ff", "#ff4fd8", "#7cff4f", "#ff8c1a", "#b38cff")
#: The longest side a photo is drawn at (unless a larger ``width`` is asked for).
DRAW_MAX_SIDE = 2048


def draw_predictions(image, prediction: Prediction, *, ax=None, width: int | None = None,
                     title: str | None = None) -> Image.Image:
    """The photo with each face's box and label drawn on it (the paper's Figure 3), as a PIL image.

    The picture is the photo's own size, at most :data:`DRAW_MAX_SIDE` pixels on its long
    side; ``width`` resizes it (boxes follow). With a matplotlib ``ax`` the picture is also
    shown there, titled ``title`` (default: the number of faces).
    """
    pil = Image.fromarray(read_photo(image, max_side=max(DRAW_MAX_SIDE, int(width or 0))))
    if width and pil.size[0] != width:
        pil = pil.resize((int(width), max(1, round(pil.size[1] * width / pil.size[0]))), Image.Resampling.LANCZOS)
    sx, sy = pil.size[0] / prediction.width, pil.size[1] / prediction.height  # boxes are in the photo's pixels
    draw = ImageDraw.Draw(pil)
    line = max(2, round(min(pil.size) / 160))
    font = _font(max(11, round(min(pil.size) / 28)))
    for k, face in enumerate(prediction.faces):
        colour = COLOURS[k % len(COLOURS)]
        x, y, w, h = face["box"]
        x, y, w, h = x * sx, y * sy, w * sx, h * sy
        draw.rectangle([x, y, x + w, y + h], outline=colour, width=line)
        text = f"#{k + 1} {face['label']}"
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left, bottom - top
        ty = y - th - 2 * line if y - th - 2 * line >= 0 else min(y + h + line, pil.size[1] - th - 2 * line)
        tx = min(max(0, x), max(0, pil.size[0] - tw - 2 * line))
        draw.rectangle([tx, ty, tx + tw + 2 * line, ty + th + 2 * line], fill=(0, 0, 0))
        draw.text((tx + line - left, ty + line - top), text, fill=colour, font=font)
    if ax is not None:
        ax.imshow(pil)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title if title is not None else f"{len(prediction)} face(s)")
    return pil


def prediction_html(image, prediction: Prediction, *, width: int = 480) -> str:
    """HTML of the photo with each face's box and label laid over it, and one line per face below.

    Boxes are ``div.agekit-box`` (label in ``span.agekit-label``) placed in percent of the
    picture, so they stay on the faces at any display size. For ipywidgets and web pages.
    """
    rgb = read_photo(image, max_side=max(DRAW_MAX_SIDE, int(width)))
    parts = [f'<div class="agekit-photo" style="position:relative;display:inline-block;max-width:100%;'
             f'width:{int(width)}px;line-height:0">',
             f'<img src="{image_data_url(rgb, width)}" style="width:100%;height:auto" alt="photo">']
    for k, face in enumerate(prediction.faces):
        x, y, w, h = face["box"]
        colour = COLOURS[k % len(COLOURS)]
        style = (f"position:absolute;left:{100 * x / prediction.width:.2f}%;top:{100 * y / prediction.height:.2f}%;"
                 f"width:{100 * w / prediction.width:.2f}%;height:{100 * h / prediction.height:.2f}%;"
                 f"border:2px solid {colour};box-sizing:border-box")
        label_style = (f"position:absolute;left:-2px;bottom:100%;white-space:nowrap;background:rgba(0,0,0,.75);"
                       f"color:{colour};font:12px/1.3 sans-serif;padding:1px 4px")
        parts.append(f'<div class="agekit-box" data-face="{k + 1}" style="{style}">'
                     f'<span class="agekit-label" style="{label_style}">#{k + 1} {html.escape(face["label"])}'
                     "</span></div>")
    parts.append("</div>")
    if prediction.faces:
        items = "".join(f"<li>#{k + 1}: {html.escape(f['label'])} (box {f['box']})</li>"
                        for k, f in enumerate(prediction.faces))
        parts.append(f'<ol class="agekit-faces" style="list-style:none;padding-left:0">{items}</ol>')
    else:
        parts.append('<p class="agekit-no-face">No face found. Try a photo where the face is larger, frontal and '
                     "well lit.</p>")
    return "".join(parts)


def example_html(example: dict, prediction: Prediction, *, width: int = 160) -> str:
    """One labelled image beside the model's answer: ``div.agekit-truth`` and ``div.agekit-prediction``.

    ``example`` holds ``path`` and the true ``age``, ``gender`` and ``race`` (None or NaN when unknown).
    """
    from .age_groups import age_groups

    face = prediction.faces[0]
    scheme = age_groups(face.get("age_groups") or "10")
    age = _known(example.get("age"))
    if age is None:
        truth = ["age unknown"]
    else:
        group = int(scheme.assign([age])[0])
        truth = [f"age {age:g}" + (f" ({scheme.labels[group]})" if group >= 0 else "")]
    for task, names in CLASS_NAMES.items():
        value = _known(example.get(task))
        truth.append(names[int(value)] if value is not None else f"{task} unknown")
    p_age = probability_of(face.get("age_probabilities"), face["age_group"])
    said = [f"age {face['age_group']}" + (f" ({p_age:.2f})" if p_age is not None else "")]
    if face.get("age_years") is not None:
        said.append(f"{face['age_years']:.1f} years")
    for task in CLASS_NAMES:
        if task in face:
            said.append(f"{face[task]} ({face[f'{task}_probabilities'][face[task]]:.2f})")
    rgb = read_photo(example["path"], max_side=DRAW_MAX_SIDE)
    return (f'<div class="agekit-example" style="display:flex;gap:16px;align-items:center">'
            f'<img src="{image_data_url(rgb, width)}" style="width:{int(width)}px;image-rendering:auto" alt="face">'
            f'<div><div class="agekit-truth"><b>truth:</b> {html.escape(", ".join(truth))}</div>'
            f'<div class="agekit-prediction"><b>model:</b> {html.escape(", ".join(said))}</div>'
            f'<div class="agekit-file" style="color:#777;font-size:smaller">{html.escape(Path(example["path"]).name)}'
            f"</div></div></div>")


def image_data_url(rgb: np.ndarray, width: int | None = None) -> str:
    """A ``data:`` URL of the image (JPEG), shrunk to at most ``width`` pixels wide; for HTML."""
    pil = Image.fromarray(rgb)
    if width and pil.size[0] > width:
        pil = pil.resize((int(width), max(1, round(pil.size[1] * width / pil.size[0]))), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    pil.save(buf, format="JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --- private details -------------------------------------------------------------------------------


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # a Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _known(value):
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(value) or value < 0 else value
