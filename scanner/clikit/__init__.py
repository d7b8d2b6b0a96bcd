"""Click plumbing shared by `bzscan` and `bzagg`.

Config files and their search path, option types, lazily loaded command groups; no I/O library.
"""
