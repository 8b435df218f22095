import json

from shared.errors import CODES, PreconditionRequired, http_status


def test_precondition_required_is_428_in_the_one_error_format():
    from services.gateway.http import response_for_exception

    assert http_status("PreconditionRequired") == 428
    assert CODES["PreconditionRequired"] == "precondition_required"
    response = response_for_exception(
        PreconditionRequired("gửi If-Match / send If-Match", {"header": "If-Match"})
    )
    assert response.status_code == 428
    assert json.loads(response.get_data()) == {
        "error": {
            "code": "precondition_required",
            "message": "gửi If-Match / send If-Match",
            "details": {"header": "If-Match"},
        }
    }


def test_a_disan_error_reads_as_its_message():
    assert str(PreconditionRequired("thiếu If-Match", {"x": 1})) == "thiếu If-Match"
