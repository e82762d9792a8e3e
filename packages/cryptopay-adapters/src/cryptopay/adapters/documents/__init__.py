"""KYC documents: the document store on a directory or an S3-compatible bucket, and the image probe on Pillow.

>>> import tempfile, pathlib
>>> store = FileDocumentStore(pathlib.Path(tempfile.mkdtemp()))
>>> store.put("kyd_1", b"blob")
>>> store.get("kyd_1")
b'blob'
"""

from cryptopay.adapters.documents.filesystem import FileDocumentStore
from cryptopay.adapters.documents.images import PillowProbe
from cryptopay.adapters.documents.s3 import S3DocumentStore, S3Settings

__all__ = ["FileDocumentStore", "PillowProbe", "S3DocumentStore", "S3Settings"]
