import Exports
