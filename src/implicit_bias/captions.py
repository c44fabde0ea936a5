"""Figure captions: one source for report.html and the Snakemake report (workflow/report/figure.rst holds
the same text, tested equal).
"""

CAPTIONS = {
    "trajectories": (
        "Figures 1 and 3 as the paper draws them: rows alpha, columns fc, diag, conv (one colour each), beta "
        "itself in one frame per row with equal aspect. Each seed has a line style: its path from its start (open "
        "marker) to the end of training (filled); regression: the cross is Theorem 5's predicted limit on the "
        "grey line of global minima; classification: the frame is clipped where the paper's GD stopped (L = "
        "1e-5), the wide grey ray is the network's predicted max-margin direction and a triangle on the frame's edge "
        "is each run's direction at its end (GD's depend on the init at L = 1e-5; the flow's meet the ray). "
        "Claims: figure1, figure3, figure3_loss_gap."
    ),
    "alpha_sweep": (
        "The relative distance of each trained limit to reference solutions, against alpha (log-log). Remark 4: "
        "the weighted l1 solution (approached as alpha -> 0) and the weighted l2 one (alpha -> infinity); Theorem "
        "6.2: the min-l2 interpolant (approached as alpha -> 0). Wide pale lines: the same distances for Theorem 4's "
        "predicted limit, on which the trained markers sit when it holds. Claims: remark4, theorem4, theorem6."
    ),
    "direction_error": (
        "Classification: the angle between beta and its predicted direction against tau = -log L (log-log), one "
        "line per seed; the dashed line marks where the paper's GD stopped (L = 1e-5). Claims: the corollaries of "
        "Sections 4 and 6."
    ),
    "agreement": (
        "Trained against predicted coefficients of beta, one panel per claim (unit directions for "
        "classification): on the diagonal when the claim holds. Larger markers are larger alpha: a claim about "
        "the limit alpha -> 0 (Theorem 6.2) is met by the small ones only."
    ),
    "tail_fits": (
        "Each quantity a classification check judged, against tau = -log L over the run's last two decades, in "
        "the network's colour (darker for larger alpha, a line style per seed), with its fit a + c tau^-p (the "
        "wide pale line) and the tolerance (dotted); grey lines are the controls, which must stay above it. The "
        "limit a of the fit is what the check judges."
    ),
    "forest": (
        "A forest plot of the tail verdicts: per judged row its fitted limit with the 2-sigma band, as a multiple of "
        "the tolerance (log scale), and the value at the end of the run (x); dotted: the tolerance, dashed: 10 times "
        "it, where a refutation starts. Colour: the status; filled: reached at the end of the run, hollow: "
        "extrapolated or not passing."
    ),
    "rich_kernel": (
        "Remark 4's rich-to-kernel transition on data with a planted beta* (Woodworth et al.'s sparse "
        "regression): per network, the relative distance of the trained limit to beta* (left) and its test error "
        "on held-out points (right) against the initial scale alpha; dashed: the min-l1 interpolant (the rich "
        "end, alpha -> 0), dotted: the min-l2 interpolant (the kernel end, alpha -> infinity). Claims: remark4, "
        "theorem4, corollary5."
    ),
    "limit_images": (
        "Each network's trained limit direction beta / |beta| drawn as an image (top; digits: 8 x 8 pixels, red "
        "positive, blue negative, one symmetric scale per image) beside the direction its claim predicts "
        "(bottom): fc the l2 max-margin direction (dense), diag the l1 one (a few pixels), conv the DFT-l1 one (a "
        "few frequencies); the angle between the two is in each title. Claims: corollary1, corollary2, "
        "corollary3."
    ),
}


def caption(name: str) -> str:
    """The caption of a figure file named ``<experiment>_<kind>`` (empty for an unknown kind)."""
    return next((text for kind, text in CAPTIONS.items() if name.endswith("_" + kind)), "")
