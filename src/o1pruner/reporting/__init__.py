"""The paper's outputs: Tables 1-3 (:mod:`.length_disharmony`, :mod:`.tables`), Figures 1-4
(:mod:`.length_disharmony`, :mod:`.figures`), training diagnostics and the results page."""
