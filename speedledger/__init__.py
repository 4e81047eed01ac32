"""speedledger: radar edge agent, event-sourced central system and traffic simulator."""

__version__ = "0.1.0"
