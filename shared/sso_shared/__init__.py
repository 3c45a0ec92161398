"""The contract both services import: who the user is and where they live."""
