print("levy")
