"""HTTP edge shared by every API function: resolver factory, auth, errors, pagination, HAL."""
