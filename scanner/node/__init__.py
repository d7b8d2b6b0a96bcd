"""What a scanner node does with its windows.

Outbox, broker delivery, live and replay runs, the doctor.
"""
