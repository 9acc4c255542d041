"""Entrypoint of the ``review-page`` deployment (``flows/review_page.py:review_page``): the
review page of a campaign run suspended for review, on the cpu work pool; its "Review done"
resumes that run. The flow lives in pixio_ads/flows/review_page.py."""

from pixio_ads.flows.review_page import review_page

__all__ = ["review_page"]
