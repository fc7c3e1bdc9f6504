"""The domain: researcher profiles, host labs, career stages, programmes and their rules.

No FAISS, no Flask and no file or network I/O here; everything is plain validated data and pure functions.
"""
