"""Lightning callbacks: the palindrome length curriculum, progress output."""
