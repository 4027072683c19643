"""DSR Watch: monitor of China's export of digital infrastructure (see README.md)."""
