"""calendars"""
