"""Results: the ad platforms' reports read back, what wins, and the next round.

Owns reading Meta Ads Manager and Google Ads report files and joining each row to the
creatives our exports made (reports.py), the per-variant figures beside the manifest
(performance.py), Beta-binomial posteriors of click-through and conversion rates per
dimension with the probability each value is best (winners.py, plots.py), the next round's
campaign file by Thompson sampling (nextround.py), and whether the pre-launch scores predict
the results (predict.py). Imports delivery and below (the exports' ad names); it renders
nothing and reaches no ad account: reports are the files a person downloads.
"""
