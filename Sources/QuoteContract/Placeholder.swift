enum _PlaceholderQuoteContract {}
