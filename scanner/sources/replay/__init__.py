"""Adverts from capture files: pcap, pcapng, btsnoop, JSONL (readers and the writer)."""
