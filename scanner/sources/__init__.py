"""Where adverts come from: live (bleak), replay files, the simulator."""
