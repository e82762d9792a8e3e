"""Data protection (Kenya's Data Protection Act, 2019): a data subject's export and the retention of their records."""

from cryptopay.core.privacy.export import EXPORT_FORMAT, NOTICE_ACTION, SubjectExports, subject_export

__all__ = ["EXPORT_FORMAT", "NOTICE_ACTION", "SubjectExports", "subject_export"]
