"""Django's own localisation, set to agree with clinic/formats.py (settings.FORMAT_MODULE_PATH).

Pages and emails format through clinic/formats.py; this is the safety net, so a value
that slips through bare ("{{ appointment.start }}") or Django's ``|date`` still reads
"7 Dec 2026, 14:30" / "2026年12月7日 14:30", never "Dec. 7, 2026, midnight". Input
formats are left to Django: forms keep reading and writing ISO dates.
"""
