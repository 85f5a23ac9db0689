"""Optimisers for fine-tuning under hardware models.

:class:`LogDomainSGD`: SGD with L2 regularisation applied through a model of a log-domain
subthreshold analog training circuit (Tageldeen et al., arXiv 2501.13181); see
``docs/log-domain-sgd.md``.
"""

from dse.optim._logdomain import LogDomainSGD, log_quantize

__all__ = ["LogDomainSGD", "log_quantize"]
