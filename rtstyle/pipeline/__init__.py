"""The streaming pipeline: stages on threads joined by bounded queues (see `core`)."""

from .core import Pipeline, Sink
from .queues import FrameQueue, Policy
from .stages import Inference, Postprocess, Preprocess, Stage
from .stats import Distribution, PipelineStats

__all__ = ["Distribution", "FrameQueue", "Inference", "Pipeline", "PipelineStats", "Policy", "Postprocess",
           "Preprocess", "Sink", "Stage"]
