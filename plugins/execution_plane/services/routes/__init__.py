"""One ``APIRouter`` per service; ``services.app.create_app`` includes each."""
