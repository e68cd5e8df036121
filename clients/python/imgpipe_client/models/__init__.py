"""Contains all the data models used in inputs/outputs"""

from .customer_volume_out import CustomerVolumeOut
from .daily_latency_out import DailyLatencyOut
from .daily_latency_out_source import DailyLatencyOutSource
from .daily_rejections_out import DailyRejectionsOut
from .daily_rejections_out_source import DailyRejectionsOutSource
from .daily_volume_out import DailyVolumeOut
from .daily_volume_out_source import DailyVolumeOutSource
from .daily_volume_out_status import DailyVolumeOutStatus
from .erasure_out import ErasureOut
from .format_share_out import FormatShareOut
from .get_stats_source_type_0 import GetStatsSourceType0
from .health_out import HealthOut
from .image_out import ImageOut
from .image_out_match_type_0 import ImageOutMatchType0
from .image_out_source import ImageOutSource
from .image_page_out import ImagePageOut
from .image_summary import ImageSummary
from .post_image_files_body import PostImageFilesBody
from .problem import Problem
from .ready_out import ReadyOut
from .ready_out_checks import ReadyOutChecks
from .removed_out import RemovedOut
from .removed_out_objects import RemovedOutObjects
from .rendition_out import RenditionOut
from .restore_in import RestoreIn
from .restore_in_tier import RestoreInTier
from .restore_out import RestoreOut
from .scheduled_out import ScheduledOut
from .stats_out import StatsOut
from .stats_out_source_type_0 import StatsOutSourceType0
from .storage_out import StorageOut
from .totals_out import TotalsOut
from .totals_out_rejections_by_reason import TotalsOutRejectionsByReason
from .upload_in import UploadIn
from .upload_out import UploadOut
from .upload_out_fields import UploadOutFields
from .upload_out_headers import UploadOutHeaders
from .upload_out_method import UploadOutMethod

__all__ = (
    "CustomerVolumeOut",
    "DailyLatencyOut",
    "DailyLatencyOutSource",
    "DailyRejectionsOut",
    "DailyRejectionsOutSource",
    "DailyVolumeOut",
    "DailyVolumeOutSource",
    "DailyVolumeOutStatus",
    "ErasureOut",
    "FormatShareOut",
    "GetStatsSourceType0",
    "HealthOut",
    "ImageOut",
    "ImageOutMatchType0",
    "ImageOutSource",
    "ImagePageOut",
    "ImageSummary",
    "PostImageFilesBody",
    "Problem",
    "ReadyOut",
    "ReadyOutChecks",
    "RemovedOut",
    "RemovedOutObjects",
    "RenditionOut",
    "RestoreIn",
    "RestoreInTier",
    "RestoreOut",
    "ScheduledOut",
    "StatsOut",
    "StatsOutSourceType0",
    "StorageOut",
    "TotalsOut",
    "TotalsOutRejectionsByReason",
    "UploadIn",
    "UploadOut",
    "UploadOutFields",
    "UploadOutHeaders",
    "UploadOutMethod",
)
