"""``python -m lexigram_compat.cli``: how ``worker --processes N`` starts its children."""

from lexigram_compat.cli import main

if __name__ == "__main__":
    main()
