# The download fixtures (a temporary storage, the public group, stored files) serve the
# end-to-end tests too.
from tests.downloads.conftest import public_group, storage, stored_file  # noqa: F401
