"""What every role shares: the array type aliases, the array-namespace seam (``backend``), input
validation and name look-ups with helpful errors, and the table of moved module paths."""
