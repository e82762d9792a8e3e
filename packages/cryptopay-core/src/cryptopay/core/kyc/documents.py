"""KYC documents: what each kind may be, checked by content (never by the name or type the uploader claims).

An upload is read by its magic bytes: JPEG, PNG or (for business documents only) PDF. Images are then measured by
an ``ImageProbe`` (Pillow in production, which also decodes the whole image, so a truncated or disguised file is
refused); photos must be at least 600 x 400 pixels so an officer can read them. Every document is at most 8 MB.

>>> sniff(b"%PDF-1.7 ...")
'application/pdf'
>>> rule = RULES[DocumentKind.SELFIE]
>>> rule.accepts("application/pdf"), rule.accepts("image/jpeg")
(False, True)
"""

from __future__ import annotations

import enum
import hashlib

import attrs
from cryptopay.core.errors import InvalidInput

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "MAX_DOCUMENT_MB",
    "RULES",
    "TOO_LARGE",
    "DocumentFacts",
    "DocumentKind",
    "DocumentRejected",
    "DocumentRule",
    "sniff",
]

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
MAX_DOCUMENT_MB = MAX_DOCUMENT_BYTES // 1024 // 1024
TOO_LARGE = f"a document is at most {MAX_DOCUMENT_MB} MB"  # the refusal of a larger one (pages translate it)
JPEG, PNG, PDF = "image/jpeg", "image/png", "application/pdf"
_IMAGES = frozenset({JPEG, PNG})


class DocumentRejected(InvalidInput):
    """An upload is not a document of the kind it claims to be (type, size or dimensions)."""

    code = "document_rejected"


class DocumentKind(enum.Enum):
    ID_FRONT = "id_front"
    ID_BACK = "id_back"
    SELFIE = "selfie"
    CERTIFICATE_OF_INCORPORATION = "certificate_of_incorporation"
    KRA_PIN_CERTIFICATE = "kra_pin_certificate"


@attrs.frozen
class DocumentRule:
    """The content types a kind accepts and the smallest image it accepts."""

    types: frozenset[str]
    min_width: int = 600
    min_height: int = 400

    def accepts(self, content_type: str) -> bool:
        return content_type in self.types


_BUSINESS = frozenset({JPEG, PNG, PDF})
RULES = {
    DocumentKind.ID_FRONT: DocumentRule(_IMAGES),
    DocumentKind.ID_BACK: DocumentRule(_IMAGES),
    DocumentKind.SELFIE: DocumentRule(_IMAGES, min_width=400, min_height=400),
    DocumentKind.CERTIFICATE_OF_INCORPORATION: DocumentRule(_BUSINESS),
    DocumentKind.KRA_PIN_CERTIFICATE: DocumentRule(_BUSINESS),
}


@attrs.frozen
class DocumentFacts:
    """What the content says about an upload: its real type, size, digest and (images) dimensions."""

    content_type: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None


def sniff(data: bytes) -> str | None:
    """The content type the magic bytes say (JPEG, PNG, PDF), or None for anything else."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"%PDF-"):
        return PDF
    return None


def inspect(kind: DocumentKind, data: bytes, *, dimensions: tuple[int, int] | None) -> DocumentFacts:
    """The facts of a valid ``kind`` upload, or ``DocumentRejected`` saying what is wrong.

    ``dimensions`` is what the image probe measured (None for a PDF).
    """
    if not data:
        raise DocumentRejected("the document is empty", field="content")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DocumentRejected(TOO_LARGE, field="content")
    found = sniff(data)
    rule = RULES[kind]
    if found is None or not rule.accepts(found):
        allowed = ", ".join(sorted(t.split("/")[1].upper() for t in rule.types))
        raise DocumentRejected(f"a {kind.value} must be {allowed}", field="content")
    facts = DocumentFacts(found, len(data), hashlib.sha256(data).hexdigest())
    if found == PDF:
        if b"%%EOF" not in data[-1024:]:
            raise DocumentRejected("the PDF is truncated (no end-of-file marker)", field="content")
        return facts
    if dimensions is None:
        raise DocumentRejected("the image could not be read", field="content")
    width, height = sorted(dimensions, reverse=True)  # a portrait photo is as readable as a landscape one
    if width < rule.min_width or height < rule.min_height:
        raise DocumentRejected(
            f"a {kind.value} must be at least {rule.min_width} x {rule.min_height} pixels, "
            f"this one is {dimensions[0]} x {dimensions[1]}",
            field="content",
        )
    return attrs.evolve(facts, width=dimensions[0], height=dimensions[1])
