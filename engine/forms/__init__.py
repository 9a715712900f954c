"""Task forms: form-js files and Camunda 7 generated forms, shown and validated alike."""

from engine.forms.camunda import load_camunda_form_data
from engine.forms.formjs import load_formjs
from engine.forms.model import Form, FormField, Option
from engine.forms.summary import form_summary
from engine.forms.validation import validate_submission

__all__ = [
    "Form",
    "FormField",
    "Option",
    "form_summary",
    "load_camunda_form_data",
    "load_formjs",
    "validate_submission",
]
