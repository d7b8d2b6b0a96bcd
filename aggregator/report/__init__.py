"""Reports: tables, text, CSV/JSON/HTML/XLSX, charts, translations, method notes, trend."""
