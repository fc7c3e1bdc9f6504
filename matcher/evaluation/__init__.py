"""Quality measured against rated data: the metrics, the reviewer-expertise gold standard, its OpenReview-style
reader, and the cross-language check of the multilingual encoder."""
